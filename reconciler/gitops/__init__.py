"""Git and GitHub: targets at any ref, the commit applied, the sticky plan comment, the drift issue."""
