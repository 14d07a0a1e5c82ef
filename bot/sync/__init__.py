"""CRM sync: sign-ups (with the signer's separate consent) reach the organisers' CRM.

Two kinds of destination: Action Network (its Record Signature Helper, OSDI) and a signed webhook
for any other CRM. Events leave through a sync outbox in the store with the delivery outbox's
guarantees (claimed in windows, retried with capped back-off and jitter, ``Retry-After`` obeyed,
permanent errors stopped and reported), paced per destination, by one elected instance.
"""
