package dashboard

import "time"

// SetWriteTimeout shortens the stream's write deadline; call it before
// any client connects.
func SetWriteTimeout(db *Dashboard, d time.Duration) { db.wlimit = d }
