-- Measures: join consistency check, procedure group b (death -> residence deleted -> allowance): deceased citizens who still hold an active permanent residence (docs/examples/3; manifest deceased_with_active_permanent_residence).
-- Shape: 6,400 deceased citizens joined with the active permanent residences (1M rows after the pushed filter) and grouped.
SELECT c.pin, c.full_name, c.death_date, MIN(r.commune_code) AS commune, MIN(r.registered_on) AS registered_on
FROM dancu.citizens c
JOIN cutru.residences r ON r.pin = c.pin
WHERE c.death_date IS NOT NULL AND r.kind = 'permanent' AND r.status = 'active'
GROUP BY c.pin, c.full_name, c.death_date
ORDER BY c.death_date, c.pin;
