"""Privacy: encryption of personal fields and the keyring that holds the database's keys, the secret key
(where it comes from, how it is rotated), and files that hold personal data, written owner-only."""
