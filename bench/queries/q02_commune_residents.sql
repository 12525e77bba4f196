-- Measures: a selective cross-source join in one commune (3 sources): the living people the NPD places in one commune, their active residence registrations and their health cards.
-- Shape: a selective filter on dancu.citizens (about 0.03% of rows); the other two sources only need those citizens' PINs (semi-join reduction).
SELECT c.pin, c.full_name, c.birth_date, r.kind, r.commune_code, r.registered_on, h.card_no, h.valid_to
FROM dancu.citizens c
JOIN cutru.residences r ON r.pin = c.pin AND r.status = 'active'
LEFT JOIN bhxh.health_cards h ON h.pin = c.pin
WHERE c.current_commune = '{{commune}}' AND c.death_date IS NULL;
