"""What the teams app asks and tells the apps above it, without knowing them.

The questions are sent before a change that something else might depend on; every
receiver answers with a list (empty when it has nothing to say), and teams refuses or
warns with what comes back. The announcements are sent inside the transaction of the
change, so what a listener writes commits or rolls back with it.
"""

from django.dispatch import Signal

# Sent with team, group_ids: what would be left pointing at these groups if they went
# ("reassignment group “ISA handoff”", …).
groups_in_use = Signal()

# Sent with tag: what distributes by this agent tag ("rule Zillow", …).
agent_tag_in_use = Signal()

# Sent with team: {"rules": [...], "groups": [...]}, each using a method the team's plan lacks.
plan_lacks = Signal()

# Sent with membership: the member needs a link to set their password (a new member
# without one, or a manager sending a fresh link). Teams sends no email itself.
password_link_requested = Signal()
