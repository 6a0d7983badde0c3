"""A scripted mail world on loopback (DNS + SMTP) shared by tests and bench scripts."""
