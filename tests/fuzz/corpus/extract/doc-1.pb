
seed-1b“We will not wait,” said Hana Kowalska, the mayor of Gdansk. She added: “Nobody asked us.”
kv