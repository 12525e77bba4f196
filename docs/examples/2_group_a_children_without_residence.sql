-- Question: Which living children under 6 are not registered at an active permanent residence? (procedure group a)
-- Manifest: children_under6_without_permanent_residence
SELECT c.pin, c.full_name, c.birth_date
FROM dancu.citizens c
WHERE c.birth_date > DATE_SUB(DATE '2026-11-30', INTERVAL 6 YEAR)
  AND c.death_date IS NULL
  AND NOT EXISTS (SELECT 1 FROM cutru.residences r
                  WHERE r.pin = c.pin AND r.kind = 'permanent' AND r.status = 'active')
ORDER BY c.pin;
