package actorrule

import (
	"strings"
	"testing"
)

func TestKill(t *testing.T) {
	cases := []struct {
		known, dead bool
		want        KillOutcome
	}{
		{known: false, dead: false, want: KillUnknownActor},
		{known: false, dead: true, want: KillUnknownActor},
		{known: true, dead: true, want: KillNothing},
		{known: true, dead: false, want: KillActor},
	}
	for _, c := range cases {
		if got := Kill(c.known, c.dead); got != c.want {
			t.Errorf("Kill(known=%v, dead=%v) = %v, want %v", c.known, c.dead, got, c.want)
		}
	}
}

func TestMessagesNameWhatFailed(t *testing.T) {
	cases := []struct{ got, want string }{
		{UnknownArgument("actor factory Counter::Make", "ab12"), "Argument of actor factory Counter::Make is ObjectRef ab12, which no process"},
		{FactoryArgumentFailed("boom"), "argument of its factory failed: boom"},
		{CreationFailed("bad init"), "its creation failed: bad init"},
		{UnknownActor("cd34"), "Failed to find a corresponding actor handle for actor cd34"},
	}
	for _, c := range cases {
		if !strings.Contains(c.got, c.want) {
			t.Errorf("%q does not contain %q", c.got, c.want)
		}
	}
}
