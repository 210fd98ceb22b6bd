
seed-4Géè 😀 ÅSTRÖM Ltd. (ÅL) announced on Monday 3 March 2021 that ...
kv