package indexed

type Table[R comparable] struct {
	table[R]
}
