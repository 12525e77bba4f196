-- Measures: a dashboard aggregate on one source (social insurance in MariaDB): health cards per benefit level, how many are valid on the reference date, and their validity range.
-- Shape: single source; the whole aggregate can run in MariaDB (grouping on a DECIMAL) and return a handful of rows.
SELECT benefit_level, COUNT(*) AS cards,
       SUM(CASE WHEN valid_to >= DATE '2026-11-30' THEN 1 ELSE 0 END) AS valid_now,
       MIN(valid_from) AS first_valid_from, MAX(valid_to) AS last_valid_to
FROM bhxh.health_cards
GROUP BY benefit_level;
