-- Measures: anti-join consistency check, procedure group a (birth -> residence -> card): living children under 6 with no health-insurance card (docs/examples/1; manifest children_under6_without_health_card).
-- Shape: about 70,000 children from PostgreSQL anti-joined with 923,000 cards in MariaDB.
SELECT c.pin, c.full_name, c.birth_date, c.permanent_commune
FROM dancu.citizens c
WHERE c.birth_date > DATE '2020-11-30'
  AND c.death_date IS NULL
  AND NOT EXISTS (SELECT 1 FROM bhxh.health_cards h WHERE h.pin = c.pin)
ORDER BY c.birth_date DESC, c.pin;
