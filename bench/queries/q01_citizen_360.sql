-- Measures: a citizen 360° point lookup: what every agency holds about one citizen (5 sources, 7 tables), keyed on one literal PIN.
-- Shape: correlated scalar subqueries on c.pin with c.pin = literal; a good plan asks each source for one citizen's rows through its PIN index.
-- Floor: the statically derivable filter pin = literal goes to every table (lienthong's EXPLAIN may not push it through the correlation).
-- floor-extract: dancu: SELECT pin, full_name, birth_date, death_date, permanent_commune FROM citizens WHERE pin = '{{pin}}'
-- floor-extract: hotich: SELECT child_pin FROM births WHERE child_pin = '{{pin}}'
-- floor-extract: hotich: SELECT pin, death_date FROM deaths WHERE pin = '{{pin}}'
-- floor-extract: cutru: SELECT pin FROM residences WHERE pin = '{{pin}}' AND status = 'active'
-- floor-extract: bhxh: SELECT pin, valid_to FROM health_cards WHERE pin = '{{pin}}'
-- floor-extract: bhxh: SELECT pin, amount FROM funeral_allowances WHERE pin = '{{pin}}'
-- floor-extract: yte: SELECT pin FROM visits WHERE pin = '{{pin}}'
-- floor-extract: yte: SELECT pin FROM vaccinations WHERE pin = '{{pin}}'
SELECT c.pin, c.full_name, c.birth_date, c.death_date, c.permanent_commune,
       (SELECT COUNT(*) FROM hotich.births b WHERE b.child_pin = c.pin) AS birth_records,
       (SELECT MAX(d.death_date) FROM hotich.deaths d WHERE d.pin = c.pin) AS registered_death_date,
       (SELECT COUNT(*) FROM cutru.residences r WHERE r.pin = c.pin AND r.status = 'active') AS active_residences,
       (SELECT MAX(h.valid_to) FROM bhxh.health_cards h WHERE h.pin = c.pin) AS card_valid_to,
       (SELECT SUM(f.amount) FROM bhxh.funeral_allowances f WHERE f.pin = c.pin) AS funeral_allowance,
       (SELECT COUNT(*) FROM yte.visits v WHERE v.pin = c.pin) AS health_visits,
       (SELECT COUNT(*) FROM yte.vaccinations x WHERE x.pin = c.pin) AS vaccinations
FROM dancu.citizens c
WHERE c.pin = '{{pin}}';
