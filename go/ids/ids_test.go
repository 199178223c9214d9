package ids

import "testing"

func TestReturnIDCarriesTask(t *testing.T) {
	task := NewTaskID()
	r := task.ReturnID(1)
	if string(r[:TaskIDSize]) != string(task[:]) {
		t.Fatalf("return id %s does not start with task id %s", r.Hex(), task.Hex())
	}
	if r.IsPut() {
		t.Fatal("a task return id reads as a put id")
	}
	if !NewPutID().IsPut() {
		t.Fatal("a put id does not read as one")
	}
}

func TestIDsAreUnique(t *testing.T) {
	seen := map[ObjectID]bool{}
	for i := 0; i < 10000; i++ {
		id := NewPutID()
		if seen[id] {
			t.Fatalf("duplicate id %s after %d ids", id, i)
		}
		seen[id] = true
	}
}

func TestFromBytesChecksLength(t *testing.T) {
	if _, err := ObjectIDFromBytes(make([]byte, 5)); err == nil {
		t.Fatal("a 5-byte object id was accepted")
	}
	id := NewPutID()
	back, err := ObjectIDFromBytes(id[:])
	if err != nil || back != id {
		t.Fatalf("round trip: %v %v", back, err)
	}
	u := NewUniqueID()
	if v, err := UniqueIDFromHex(u.Hex()); err != nil || v != u {
		t.Fatalf("hex round trip: %v %v", v, err)
	}
	if _, err := UniqueIDFromHex("zz"); err == nil {
		t.Fatal("bad hex accepted")
	}
	if _, err := TaskIDFromBytes(nil); err == nil {
		t.Fatal("empty task id accepted")
	}
}
