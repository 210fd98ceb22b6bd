
seed-3
kv