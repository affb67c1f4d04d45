package event

import (
	"encoding/json"
	"time"
)

// Meta is what the transfer needs from a record to place its document.
type Meta struct {
	Timestamp time.Time // @timestamp; zero when missing or unreadable
	ID        string    // event.id; "" when missing
}

type wire struct {
	Timestamp string `json:"@timestamp"`
	Event     struct {
		ID string `json:"id"`
	} `json:"event"`
}

// ReadMeta extracts @timestamp and event.id from a record value. ok is
// false when the value is not a JSON object, as for records brun did not
// produce.
func ReadMeta(value []byte) (m Meta, ok bool) {
	var w wire
	if err := json.Unmarshal(value, &w); err != nil {
		return Meta{}, false
	}
	m.ID = w.Event.ID
	if w.Timestamp != "" {
		if t, err := time.Parse(time.RFC3339Nano, w.Timestamp); err == nil {
			m.Timestamp = t
		}
	}
	return m, true
}
