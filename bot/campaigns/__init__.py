"""Campaigns: the people the bot knows, their pledges, petition signatures, subscriptions and forms under
way, each kind of record a class over the store (encrypted where it names someone); the checks a form's
answers go through (names, e-mail addresses, countries), time zones, the counts organisers see, and what
one person's data is as a whole (/mydata, /forget)."""
