"""Storage: the database (transactions, and the migrations that bring an older one up to date), and the
settings platforms keep in it by name and scope."""
