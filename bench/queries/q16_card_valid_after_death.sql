-- Measures: a 3-source join: deceased citizens (NPD, PostgreSQL) with a death registration (civil registration, MariaDB) whose health card (social insurance, MariaDB) stays valid after the death (manifest health_card_valid_after_death, less unregistered deaths).
-- Shape: 6,400 deceased citizens and 6,239 deaths against 923,000 cards; the cards are needed only for the deceased's PINs.
SELECT c.pin, c.hometown_province, c.death_date, d.registered_on, h.card_no, h.valid_to
FROM dancu.citizens c
JOIN hotich.deaths d ON d.pin = c.pin
JOIN bhxh.health_cards h ON h.pin = c.pin
WHERE c.death_date IS NOT NULL AND h.valid_to > c.death_date;
