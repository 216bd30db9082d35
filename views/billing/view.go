package billing

import "strconv"

func itoa(n int) string { return strconv.Itoa(n) }

// barWidths are the meter widths in 5% steps, spelled out so Tailwind
// generates them (the Content-Security-Policy forbids inline styles).
var barWidths = [...]string{
	"w-0", "w-[5%]", "w-[10%]", "w-[15%]", "w-[20%]", "w-[25%]", "w-[30%]", "w-[35%]", "w-[40%]", "w-[45%]", "w-[50%]",
	"w-[55%]", "w-[60%]", "w-[65%]", "w-[70%]", "w-[75%]", "w-[80%]", "w-[85%]", "w-[90%]", "w-[95%]", "w-full",
}

// barWidth returns the width class of a meter filled to percent, rounded
// up so that any use shows.
func barWidth(percent int) string {
	percent = min(100, max(0, percent))
	return barWidths[(percent+4)/5]
}
