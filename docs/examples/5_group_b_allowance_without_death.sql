-- Question: Which funeral allowances were paid with no death registration behind them? (procedure group b)
-- Manifest: funeral_allowances_without_death_registration
SELECT f.payment_id, f.pin, f.paid_on, f.amount
FROM bhxh.funeral_allowances f
WHERE NOT EXISTS (SELECT 1 FROM hotich.deaths d WHERE d.pin = f.pin)
ORDER BY f.paid_on, f.payment_id;
