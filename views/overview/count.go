package overview

import "strconv"

func itoa(n int) string { return strconv.Itoa(n) }

func doneCount(steps []Step) string {
	n := 0
	for _, s := range steps {
		if s.Done {
			n++
		}
	}
	return itoa(n)
}
