-- Question: Where does civil registration spell a child's name differently from the population database, and is it only case, Unicode form or spacing?
-- Manifest: birth_name_mismatch
SELECT b.child_pin, c.full_name AS npd_name, b.full_name AS hotich_name,
       CASE WHEN b.full_name = UPPER(c.full_name) THEN 'upper case'
            WHEN NFC(b.full_name) = c.full_name THEN 'Unicode NFD form'
            WHEN REPLACE(b.full_name, '  ', ' ') = c.full_name THEN 'double space'
            WHEN UNACCENT(LOWER(b.full_name)) = UNACCENT(LOWER(c.full_name)) THEN 'diacritics or case'
            ELSE 'different name' END AS difference
FROM hotich.births b
JOIN dancu.citizens c ON c.pin = b.child_pin
WHERE b.full_name <> c.full_name
ORDER BY difference, b.child_pin;
