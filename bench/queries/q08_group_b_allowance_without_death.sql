-- Measures: anti-join consistency check, procedure group b: funeral allowances paid with no death registration behind them (docs/examples/5; manifest funeral_allowances_without_death_registration).
-- Shape: the reverse anti-join of q07 over the same two small MariaDB tables.
SELECT f.payment_id, f.pin, f.paid_on, f.amount
FROM bhxh.funeral_allowances f
WHERE NOT EXISTS (SELECT 1 FROM hotich.deaths d WHERE d.pin = f.pin)
ORDER BY f.paid_on, f.payment_id;
