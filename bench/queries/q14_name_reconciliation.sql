-- Measures: name reconciliation across sources: births (MariaDB) whose child's name differs from the NPD's (PostgreSQL), classified (manifest birth_name_mismatch: 34,471 rows at scale 1).
-- Shape: a 995,000 x 1,000,000 join on PIN that must move every name from both sides; string functions run after the join.
-- Common SQL: NFC() is not available on every system, so Unicode-form differences fall in the last class.
SELECT b.child_pin, c.full_name AS npd_name, b.full_name AS hotich_name,
       CASE WHEN b.full_name = UPPER(c.full_name) THEN 'upper case'
            WHEN REPLACE(b.full_name, '  ', ' ') = c.full_name THEN 'double space'
            WHEN LOWER(b.full_name) = LOWER(c.full_name) THEN 'case'
            ELSE 'other spelling or Unicode form' END AS difference
FROM hotich.births b
JOIN dancu.citizens c ON c.pin = b.child_pin
WHERE b.full_name <> c.full_name;
