-- Measures: anti-join consistency check, procedure group a: living children under 6 with no active permanent residence (docs/examples/2; manifest children_under6_without_permanent_residence).
-- Shape: about 70,000 children anti-joined with 1.3M residences, both PostgreSQL but separate agencies (databases).
SELECT c.pin, c.full_name, c.birth_date
FROM dancu.citizens c
WHERE c.birth_date > DATE '2020-11-30'
  AND c.death_date IS NULL
  AND NOT EXISTS (SELECT 1 FROM cutru.residences r
                  WHERE r.pin = c.pin AND r.kind = 'permanent' AND r.status = 'active')
ORDER BY c.pin;
