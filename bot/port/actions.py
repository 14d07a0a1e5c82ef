"""Button actions: what a button does, as the data it carries says it ("pledge-take:carry-naloxone").

Each action is declared once, as an :class:`Action`, and that one declaration both makes a button's data
(``TAKE.build(pledge.id)``) and, through the router, reads a press back into its values: the format is
written in one place, never as an f-string here and a split there. The format itself is that of the
buttons already sent to people (``<name>:<value>:<value>``), so buttons in old chats keep working.
Adapters only carry the data to the platform and back (a Telegram callback, a Discord custom id).

The few actions more than one capability offers (the menu under an answer, an entry, Cancel, No) are
declared here; every other action belongs to the feature that handles it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SEPARATOR = ":"
_NAME = re.compile(r"[a-z][a-z-]*")


@dataclass(frozen=True, slots=True)
class Action:
    """A kind of button press: its name, the values its data carries, and where it may run.

    Every action says where it may run. ``handoff``: it is personal business (it reads or writes
    someone's data, or shows it); pressed in a group, whether on a real button or a forged one, it is
    moved to a private chat as the command of that name, with the same values. ``public``: it shows
    nothing personal and may run anywhere.
    """

    name: str
    # The names of the values a press carries, in order; the last takes the rest of the data, colons
    # and all, and values left out are empty (a forged press is read, and refused, like a stale one).
    params: tuple[str, ...] = ()
    handoff: str | None = None
    public: bool = False

    def __post_init__(self) -> None:
        if (self.handoff is None) != self.public:
            raise ValueError(f"button action {self.name!r}: give handoff= (personal) or public=True, not both")
        if not _NAME.fullmatch(self.name):
            raise ValueError(f"button action {self.name!r}: a name is lowercase letters and dashes")

    def build(self, *values: object) -> str:
        """A button's data: this action with ``values`` (fewer than declared, or none, leave the rest empty)."""
        if len(values) > len(self.params):
            raise TypeError(f"button action {self.name!r} carries {len(self.params)} value(s), not {len(values)}")
        return SEPARATOR.join((self.name, *(str(value) for value in values))) if values else self.name + SEPARATOR

    def values(self, rest: str) -> tuple[str, ...]:
        """The values of a press of this action, from the data after its name."""
        if not self.params:
            return ()
        parts = rest.split(SEPARATOR, len(self.params) - 1)
        return (*parts, *[""] * (len(self.params) - len(parts)))

    def parse(self, data: str) -> tuple[str, ...] | None:
        """The values ``data`` carries if it is a press of this action, else None."""
        name, _, rest = data.partition(SEPARATOR)
        return self.values(rest) if name == self.name else None


# The menu under answers and greetings.
HELP = Action("help", public=True)
TOPICS = Action("topics", ("group",), public=True)
# One knowledge-base entry: the buttons under answers, refusals and clarifying questions.
KB = Action("kb", ("entry",), public=True)
# "No" to a change asked about first (see Context.confirm).
DISMISS = Action("dismiss", public=True)
# Leave the form under way. It ends only the presser's own form and says nothing about it: no need to
# move to a private chat.
CANCEL = Action("cancel", public=True)
