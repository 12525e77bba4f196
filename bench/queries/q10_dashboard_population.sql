-- Measures: a dashboard aggregate on one source (the NPD in PostgreSQL): living citizens, children under 6 and missing phone numbers per hometown province and sex.
-- Shape: single source; the whole aggregate can run in PostgreSQL and return 126 rows.
SELECT hometown_province, sex, COUNT(*) AS living,
       SUM(CASE WHEN birth_date > DATE '2020-11-30' THEN 1 ELSE 0 END) AS under6,
       SUM(CASE WHEN phone IS NULL THEN 1 ELSE 0 END) AS without_phone
FROM dancu.citizens
WHERE death_date IS NULL
GROUP BY hometown_province, sex;
