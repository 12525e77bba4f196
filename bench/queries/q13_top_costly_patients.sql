-- Measures: top-N with a join: the 20 citizens with the highest total health-visit cost, with their NPD name and birth date.
-- Shape: an aggregate over 1.1M CSV rows (about 530,000 patients), joined with the NPD on PIN, ordered and cut to 20 rows.
SELECT c.pin, c.full_name, c.birth_date, t.visits, t.total_cost
FROM (SELECT pin, COUNT(*) AS visits, SUM(cost) AS total_cost FROM yte.visits GROUP BY pin) t
JOIN dancu.citizens c ON c.pin = t.pin
ORDER BY t.total_cost DESC, c.pin
LIMIT 20;
