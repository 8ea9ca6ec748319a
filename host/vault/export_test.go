package vault

// OnArrive tells f of each caller of k that reaches the shared refresh.
func OnArrive(k *Keeper, f func()) { k.arrived = f }

// LastLifetime is lastLifetime, for tests.
var LastLifetime = lastLifetime
