-- Measures: a large cross-source join with aggregation: all living citizens x valid health cards, per hometown province.
-- Shape: about 994,000 citizens (PostgreSQL) joined with about 880,000 cards (MariaDB) and reduced to 63 rows; every row of both sides is needed.
SELECT c.hometown_province, COUNT(*) AS insured, SUM(h.benefit_level) AS benefit_sum,
       MIN(h.valid_from) AS earliest_valid_from, MAX(h.valid_to) AS latest_valid_to
FROM dancu.citizens c
JOIN bhxh.health_cards h ON h.pin = c.pin
WHERE c.death_date IS NULL AND h.valid_to >= DATE '2026-11-30'
GROUP BY c.hometown_province;
