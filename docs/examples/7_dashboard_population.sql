-- Question: How many living citizens per province of birth registration and sex, and how many of them hold a valid health card? (dashboard aggregate)
SELECT SUBSTRING(c.pin, 1, 3) AS province, c.sex,
       COUNT(*) AS citizens,
       COUNT(h.pin) AS with_valid_card
FROM dancu.citizens c
LEFT JOIN (SELECT DISTINCT pin FROM bhxh.health_cards WHERE valid_to >= DATE '2026-11-30') h ON h.pin = c.pin
WHERE c.death_date IS NULL
GROUP BY SUBSTRING(c.pin, 1, 3), c.sex
ORDER BY province, c.sex;
