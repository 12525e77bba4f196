-- Question: What does every agency hold about one citizen? (a 360-degree lookup across five databases; here the first registered death)
SELECT c.pin, c.full_name, c.birth_date, c.death_date,
       (SELECT COUNT(*) FROM hotich.births b WHERE b.child_pin = c.pin) AS birth_records,
       (SELECT MAX(d.registered_on) FROM hotich.deaths d WHERE d.pin = c.pin) AS death_registered,
       (SELECT COUNT(*) FROM cutru.residences r WHERE r.pin = c.pin AND r.status = 'active') AS active_residences,
       (SELECT MAX(h.valid_to) FROM bhxh.health_cards h WHERE h.pin = c.pin) AS card_valid_to,
       (SELECT SUM(f.amount) FROM bhxh.funeral_allowances f WHERE f.pin = c.pin) AS funeral_allowance,
       (SELECT COUNT(*) FROM yte.visits v WHERE v.pin = c.pin) AS health_visits
FROM dancu.citizens c
WHERE c.pin = (SELECT MIN(pin) FROM hotich.deaths);
