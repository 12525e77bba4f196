-- Measures: date reconciliation across sources: registered deaths (MariaDB) whose date differs from the NPD's death date (PostgreSQL), or whom the NPD still shows alive.
-- Shape: 6,239 deaths joined with 1M citizens; the OR across the two tables cannot be pushed to either source, so only the PINs of the deaths can shrink the citizens read.
SELECT d.pin, c.death_date AS npd_death_date, d.death_date AS registered_death_date, d.registered_on
FROM hotich.deaths d
JOIN dancu.citizens c ON c.pin = d.pin
WHERE c.death_date IS NULL OR c.death_date <> d.death_date;
