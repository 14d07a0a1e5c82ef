"""The years a question names, and whether an entry speaks of them.

A question naming a year ("how many died of toxic drugs in British Columbia in 2023") asks about that
year. An entry that never mentions it, in any language (titles, question variants, answers, sources),
can be on the right topic without answering it: the knowledge base's own places and laws, asked for a
figure or an event it does not give. Such an entry is offered ("did you mean"), not served as the
answer. On the tuning set this kept five more near misses unanswered and turned one right answer into
a suggestion of the same entry (the year given as context, not asked about: "my son died of an od in
2021, how can i help").
"""

from __future__ import annotations

import re

from bot.content.model import Entry

# Four digits alone, 1900 to 2099: "30/2000" names 2000, "2010s" names 2010, "120000" names none.
# The digit before is looked for behind the four (no fifth digit ending there), not ahead of them: a
# pattern that begins with its digits is only tried where they are, one that begins with a look behind
# is tried at every character (three and a half times slower over the texts of a large knowledge base).
_YEAR = re.compile(r"(?:19|20)\d\d(?<!\d{5})(?!\d)")


def years_in(text: str) -> frozenset[str]:
    return frozenset(_YEAR.findall(text))


def entry_years(entry: Entry) -> frozenset[str]:
    """Every year ``entry`` mentions, in any of its languages or sources."""
    texts = [*entry.texts(), *(f"{source.title} {source.year or ''}" for source in entry.sources)]
    # Read in one go: a year is never made of digits on either side of a line's end.
    return years_in("\n".join(texts))
