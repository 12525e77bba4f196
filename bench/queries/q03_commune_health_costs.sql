-- Measures: a selective cross-source join with aggregation in one commune: health visits and costs per diagnosis of one commune's living residents (NPD in PostgreSQL x health CSV files).
-- Shape: a selective filter on dancu.citizens; only those PINs' visits are needed from a 1.1M-row CSV file.
SELECT v.diagnosis_code, COUNT(*) AS visits, COUNT(DISTINCT v.pin) AS patients, SUM(v.cost) AS total_cost
FROM dancu.citizens c
JOIN yte.visits v ON v.pin = c.pin
WHERE c.permanent_commune = '{{commune}}' AND c.death_date IS NULL
GROUP BY v.diagnosis_code;
