package reconciler.remote_check

import rego.v1

deny contains msg if {
	resp := http.send({"method": "get", "url": "http://127.0.0.1:9/blocklist"})
	input.actions[_].symbol in resp.body
	msg := "on the remote block list"
}
