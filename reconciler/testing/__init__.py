"""Test suites a plug-in's own tests import (pytest required): `broker_contract`, what every Broker keeps."""
