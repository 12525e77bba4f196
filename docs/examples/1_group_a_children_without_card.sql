-- Question: Which living children under 6 have no health-insurance card? (procedure group a: birth -> residence -> card)
-- Manifest: children_under6_without_health_card
-- The generated data's reference date is 2026-11-30; against live data write CURDATE().
SELECT c.pin, c.full_name, c.birth_date, c.permanent_commune
FROM dancu.citizens c
WHERE c.birth_date > DATE_SUB(DATE '2026-11-30', INTERVAL 6 YEAR)
  AND c.death_date IS NULL
  AND NOT EXISTS (SELECT 1 FROM bhxh.health_cards h WHERE h.pin = c.pin)
ORDER BY c.birth_date DESC, c.pin;
