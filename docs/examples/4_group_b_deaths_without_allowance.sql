-- Question: Which registered deaths have had no funeral allowance paid? (procedure group b)
-- Manifest: deaths_without_funeral_allowance
SELECT d.pin, d.death_date, d.registered_on, d.commune_code
FROM hotich.deaths d
WHERE NOT EXISTS (SELECT 1 FROM bhxh.funeral_allowances f WHERE f.pin = d.pin)
ORDER BY d.registered_on, d.pin;
