package api

// sessionPaths describe / and the browser session routes (session_routes.go).
func sessionPaths() obj {
	const bad, unproc, forb, conf, big, unav = 400, 422, 403, 409, 413, 503
	form := obj{"required": true, "content": obj{
		"application/json":                  obj{"schema": ref("SessionInput")},
		"application/x-www-form-urlencoded": obj{"schema": ref("SessionInput")},
	}}
	signIn := op("signIn", "Sign a browser in: a token's secret (a token bound to an agent, http.tokens[].agent, opens that agent's desk session), or an agent's SIP username and password; sets the session cookie (HttpOnly, SameSite=Strict, Secure over TLS). 401 for a wrong credential, throttled per client address with unknown tokens (429 + Retry-After); 403 from another origin; 503 when too many sessions are open",
		nil, "", "201", "Session", bad, unproc, forb, big, unav)
	signIn["requestBody"] = form
	signIn["security"] = []obj{}
	return obj{
		"/": obj{"get": obj{"operationId": "index", "summary": "A browser (Accept: text/html) is sent to /wallboard (303); other clients get an index of paths (no token)", "security": []obj{},
			"responses": obj{
				"200": obj{"description": "where things are", "content": obj{"application/json": obj{"schema": strMap()}}},
				"303": obj{"description": "to /wallboard", "headers": obj{"Location": obj{"schema": str()}}},
			}}},
		Prefix + "/session": obj{
			"post": signIn,
			"get":  op("whoAmI", "Who the request acts as: a session (scope, agent, expiry, the CSRF token for X-CSRF-Token) or a bearer token", nil, "", "200", "Session"),
			"delete": obj{"operationId": "signOut", "summary": "Sign out: the session ends, its event streams end, the cookie is cleared (409 with a bearer token: no session); needs X-CSRF-Token",
				"responses": merge(errs(forb, conf), obj{"204": obj{"description": "signed out"}})},
		},
	}
}

func sessionSchemas() obj {
	return obj{
		"SessionInput": props(nil, obj{
			"token":    obj{"type": "string", "description": "an API token's secret (http.tokens); one with agent: signs in as that agent (scope agent)"},
			"username": obj{"type": "string", "description": "an agent's SIP username (agents:), with password"},
			"password": obj{"type": "string", "description": "the agent's SIP password"},
		}),
		"Session": props([]string{"kind", "name", "scope"}, obj{
			"kind":       enum("session", "token"),
			"name":       obj{"type": "string", "description": "the token's name (an agent-bound token's too), or \"agent <id>\" (signed in with SIP credentials)"},
			"scope":      enum(ScopeRead, ScopeWrite, ScopeAgent),
			"agent":      obj{"type": "string", "description": "scope agent (an agent session or an agent-bound token): the agent's id; it may read, change only its own state and wrap up its calls' tickets"},
			"expires":    obj{"type": "string", "format": "date-time", "description": "a session not used until then ends (idle timeout, at most its lifetime)"},
			"csrf_token": obj{"type": "string", "description": "send as X-CSRF-Token with every change made with the session cookie"},
		}),
	}
}
