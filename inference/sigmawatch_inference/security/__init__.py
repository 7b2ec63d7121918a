"""Who is calling and what they may do (SEC-3), and the audit trail of requests (SEC-4)."""
