"""Operations: what a cron job calls (daily calculation, scheduled runs)."""
