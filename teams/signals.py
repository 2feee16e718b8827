"""Questions the teams app asks the apps above it, without knowing them.

Each is sent before a change that something else might depend on; every receiver
answers with a list (empty when it has nothing to say), and teams refuses or warns
with what comes back.
"""

from django.dispatch import Signal

# Sent with team, group_ids: what would be left pointing at these groups if they went
# ("reassignment group “ISA handoff”", …).
groups_in_use = Signal()

# Sent with tag: what distributes by this agent tag ("rule Zillow", …).
agent_tag_in_use = Signal()

# Sent with team: {"rules": [...], "groups": [...]}, each using a method the team's plan lacks.
plan_lacks = Signal()
