# policies/mesh.json for Open Policy Agent, rule for rule. The Data API answers
# POST /v1/data/recovery/mesh/decision with {"result": {"allow": BOOL, "rule": "ID"}}:
# the first matching deny rule, else the first matching allow rule, else a deny ("default"),
# in the JSON document's order, exactly as the built-in evaluator decides.
package recovery.mesh

import rego.v1

deny_order := ["runaway-incident", "no-failover-friday-evening", "no-scaling-in-backup-window",
	"no-quarantine-of-control-plane", "scale-at-most-nine", "untrusted-peers"]

allow_order := ["heal-services", "isolate-nodes", "mesh-peers"]

decision := {"allow": false, "rule": first(deny_order, deny)} if {
	count(deny) > 0
} else := {"allow": true, "rule": first(allow_order, allow)} if {
	count(allow) > 0
} else := {"allow": false, "rule": "default"}

first(order, matched) := [id | some id in order; id in matched][0]

# The built-in patterns know only * and ?, with no separator: a NUL delimiter keeps OPA's glob
# from treating "." as one.
matches(pattern, value) if glob.match(pattern, ["\u0000"], value)

is_action if input.subject == "action"

is_peer if input.subject == "peer"

# Time windows are UTC; a window whose end is before its start wraps past midnight, its
# morning part belonging to the day before.
now_ns := time.parse_rfc3339_ns(input.time)

weekday := {"Monday": "mon", "Tuesday": "tue", "Wednesday": "wed", "Thursday": "thu", "Friday": "fri",
	"Saturday": "sat", "Sunday": "sun"}[time.weekday(now_ns)]

previous_day := {"mon": "sun", "tue": "mon", "wed": "tue", "thu": "wed", "fri": "thu", "sat": "fri", "sun": "sat"}[weekday]

minute := (time.clock(now_ns)[0] * 60) + time.clock(now_ns)[1]

all_days := {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}

in_window(days, from, to) if {
	from <= to
	weekday in days
	minute >= from
	minute < to
}

in_window(days, from, to) if {
	from > to
	minute >= from
	weekday in days
}

in_window(days, from, to) if {
	from > to
	minute < to
	previous_day in days
}

deny contains "runaway-incident" if {
	is_action
	input.incident.actions >= 10
}

deny contains "no-failover-friday-evening" if {
	is_action
	input.action.kind == "failover"
	in_window({"fri"}, 960, 1439)
}

deny contains "no-scaling-in-backup-window" if {
	is_action
	input.action.kind == "scale"
	in_window(all_days, 1320, 120)
}

deny contains "no-quarantine-of-control-plane" if {
	is_action
	input.action.kind == "quarantine"
	matches("node/control-*", input.action.target)
}

deny contains "scale-at-most-nine" if {
	is_action
	input.action.kind == "scale"
	matches("??*", input.action.labels.to)
}

allow contains "heal-services" if {
	is_action
	input.action.kind in {"switch_route", "scale", "failover"}
	matches("service/*", input.action.target)
}

allow contains "isolate-nodes" if {
	is_action
	input.action.kind in {"quarantine", "release"}
	matches("node/*", input.action.target)
}

deny contains "untrusted-peers" if {
	is_peer
	input.peer.verdict in {"untrusted", "unknown"}
}

allow contains "mesh-peers" if {
	is_peer
	matches("spiffe://mesh.local/node/*", input.peer.spiffe_id)
	input.operation in {"sync", "route", "admit"}
}
