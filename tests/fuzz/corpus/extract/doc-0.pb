
seed-0kMr. Ortega, a senior analyst at the Northern Grain Bureau, told reporters on June 4 that prices would rise.
kv