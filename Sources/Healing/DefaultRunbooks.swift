/// The default runbooks: the documents of `runbooks/` in the repository (a test checks that
/// they are the same), here so that an agent has them without files. They answer the default
/// symptoms as the plan table of earlier versions did: fail over an unavailable service, scale
/// up one with errors, switch the route of a slow one, quarantine an unavailable node and
/// release it once it is back.
extension RunbookDocument {
    /// All five read (RunbookTests compares them with the files, so a broken one fails there).
    public static let defaults: [RunbookDocument] = defaultSources.compactMap { try? RunbookDocument(json: Array($0.utf8)) }

    /// `runbooks/NAME.json`, by name.
    static let defaultSources: [String] = [
        #"""
{
  "runbook": "failover-unavailable-service",
  "description": "A service that is unavailable moves from its region to the next of the agent's regions.",
  "match": {"symptom": "service_unavailable"},
  "steps": [
    {"name": "failover", "action": "failover",
     "params": {"service": "{{service}}", "from_region": "{{region}}", "to_region": "{{next_region}}"},
     "timeout_s": 300, "on_failure": "stop"}
  ],
  "limits": {"max_concurrent": 100, "cooldown_s": 0},
  "tests": [
    {"name": "api in eu-west fails over to eu-central", "symptom": "service_unavailable", "service": "api", "value": 0.1,
     "topology": {"regions": {"api": "eu-west"}}, "regions": ["eu-west", "eu-central"],
     "expect": [{"kind": "failover", "params": {"service": "api", "from_region": "eu-west", "to_region": "eu-central"}}]},
    {"name": "a single region: nowhere to go, nothing planned", "symptom": "service_unavailable", "service": "api", "value": 0.1,
     "topology": {"regions": {"api": "eu-west"}}, "regions": ["eu-west"], "expect": []}
  ]
}
"""#,
        #"""
{
  "runbook": "scale-erroring-service",
  "description": "A service with a high error rate gets one more replica.",
  "match": {"symptom": "high_error_rate"},
  "steps": [
    {"name": "scale up", "action": "scale", "params": {"service": "{{service}}", "from": "{{replicas}}", "to": "{{replicas+1}}"},
     "timeout_s": 300, "on_failure": "stop"}
  ],
  "limits": {"max_concurrent": 100, "cooldown_s": 0},
  "tests": [
    {"name": "db at 3 replicas goes to 4", "symptom": "high_error_rate", "service": "db", "value": 0.6,
     "topology": {"replicas": {"db": 3}}, "expect": [{"kind": "scale", "params": {"service": "db", "from": 3, "to": 4}}]},
    {"name": "a service the topology does not know: nothing planned", "symptom": "high_error_rate", "service": "ghost", "value": 0.6,
     "topology": {"replicas": {"db": 3}}, "expect": []}
  ]
}
"""#,
        #"""
{
  "runbook": "reroute-slow-service",
  "description": "A slow service's traffic switches to the first alternate route that is not the current one.",
  "match": {"symptom": "high_latency"},
  "steps": [
    {"name": "switch route", "action": "switch_route", "params": {"destination": "{{service}}", "from": "{{route}}", "to": "{{next_route}}"},
     "timeout_s": 300, "on_failure": "stop"}
  ],
  "limits": {"max_concurrent": 100, "cooldown_s": 0},
  "tests": [
    {"name": "api on node-a moves to node-b", "symptom": "high_latency", "service": "api", "value": 900,
     "topology": {"routes": {"api": "node-a"}}, "alternate_routes": {"api": ["node-a", "node-b"]},
     "expect": [{"kind": "switch_route", "params": {"destination": "api", "from": "node-a", "to": "node-b"}}]}
  ]
}
"""#,
        #"""
{
  "runbook": "quarantine-unavailable-node",
  "description": "An unavailable node is quarantined, unless it already is.",
  "match": {"symptom": "node_unavailable", "node_quarantined": false},
  "steps": [
    {"name": "quarantine", "action": "quarantine", "params": {"node": "{{node}}", "reason": "node_unavailable"},
     "timeout_s": 300, "on_failure": "stop"}
  ],
  "limits": {"max_concurrent": 100, "cooldown_s": 0},
  "tests": [
    {"name": "edge-3 is quarantined", "symptom": "node_unavailable", "node": "edge-3", "value": 0.0,
     "expect": [{"kind": "quarantine", "params": {"node": "edge-3", "reason": "node_unavailable"}}]},
    {"name": "already quarantined: nothing planned", "symptom": "node_unavailable", "node": "edge-3", "value": 0.0,
     "topology": {"quarantined": ["edge-3"]}, "expect": []}
  ]
}
"""#,
        #"""
{
  "runbook": "release-recovered-node",
  "description": "A quarantined node whose unavailability cleared is let back in.",
  "match": {"symptom": "node_unavailable", "on": "cleared", "node_quarantined": true},
  "steps": [
    {"name": "release", "action": "release", "params": {"node": "{{node}}"}, "timeout_s": 300, "on_failure": "stop"}
  ],
  "limits": {"max_concurrent": 100, "cooldown_s": 0},
  "tests": [
    {"name": "quarantined edge-3 comes back and is released", "symptom": "node_unavailable", "node": "edge-3", "value": 0.0,
     "topology": {"quarantined": ["edge-3"]}, "expect": [{"kind": "release", "params": {"node": "edge-3"}}]},
    {"name": "a node that was never quarantined: nothing to release", "symptom": "node_unavailable", "node": "edge-4", "value": 0.0,
     "expect": []}
  ]
}
"""#,
    ]
}
