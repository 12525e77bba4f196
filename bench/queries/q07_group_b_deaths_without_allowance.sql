-- Measures: anti-join consistency check, procedure group b: registered deaths with no funeral allowance paid (docs/examples/4; manifest deaths_without_funeral_allowance).
-- Shape: two small MariaDB tables of two agencies (6,239 deaths, 5,856 allowances); fixed costs dominate.
SELECT d.pin, d.death_date, d.registered_on, d.commune_code
FROM hotich.deaths d
WHERE NOT EXISTS (SELECT 1 FROM bhxh.funeral_allowances f WHERE f.pin = d.pin)
ORDER BY d.registered_on, d.pin;
