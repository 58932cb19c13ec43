package ivr

import (
	"context"
	"strings"

	"github.com/hotline-dev/hotline/flows"
	"github.com/hotline-dev/hotline/media"
)

// attempts counts a menu's or gather's failures against its retries.
type attempts struct {
	n        *flows.Node
	failures int
}

// fail counts one failure; it returns true when the retries are used up.
func (a *attempts) fail() bool {
	a.failures++
	return a.failures > a.n.Retries
}

func concat(a, b []flows.PromptRef) []flows.PromptRef {
	return append(append([]flows.PromptRef(nil), a...), b...)
}

// menu plays the prompts and waits Timeout for a first key; while the keys
// so far are the start of a longer option it waits InterDigitTimeout for
// more. A timeout goes to on_timeout when set; a timeout or a wrong key
// otherwise re-prompts (timeout_prompts or invalid_prompts first) until
// retries are used up, then goes to exhausted.
func (r *run) menu(ctx context.Context, n *flows.Node) (string, error) {
	a := attempts{n: n}
	prompts := n.Prompts
	for {
		d, next, retry, err := r.promptForKey(ctx, n, &a, &prompts, "menu")
		if err != nil {
			return "", err
		}
		if next != "" {
			return next, nil
		}
		if retry {
			continue
		}
		keys := string(d.Key)
		for hasLonger(n, keys) {
			d, ok, err := r.waitDigit(ctx, n.InterDigitTimeout)
			if err != nil {
				return "", err
			}
			if !ok {
				break
			}
			keys += string(d.Key)
		}
		r.inputDone(n)
		r.addDigits(keys)
		for _, o := range n.Options {
			if o.Digits == keys {
				return o.Next, nil
			}
		}
		r.log.Info("ivr: menu invalid choice", "node", n.Name, "keys", keys, "failures", a.failures+1)
		if a.fail() {
			return n.Exhausted, nil
		}
		prompts = concat(n.InvalidPrompts, n.Prompts)
	}
}

// hasLonger reports whether some option is longer than keys and starts with it.
func hasLonger(n *flows.Node, keys string) bool {
	for _, o := range n.Options {
		if len(o.Digits) > len(keys) && strings.HasPrefix(o.Digits, keys) {
			return true
		}
	}
	return false
}

// gather collects digits until max_digits, the terminator or an
// inter-digit timeout; checks min_digits and pattern; optionally reads the
// digits back and asks for confirmation; then sets var and goes to next.
func (r *run) gather(ctx context.Context, n *flows.Node) (string, error) {
	a := attempts{n: n}
	prompts := n.Prompts
	for {
		d, next, retry, err := r.promptForKey(ctx, n, &a, &prompts, "gather")
		if err != nil {
			return "", err
		}
		if next != "" {
			return next, nil
		}
		if retry {
			continue
		}
		got, pressed, err := r.collect(ctx, n, d.Key)
		if err != nil {
			return "", err
		}
		r.inputDone(n)
		r.addDigits(pressed)
		if !validGather(n, got) {
			r.log.Info("ivr: gather invalid", "node", n.Name, "digits", got, "failures", a.failures+1)
			if a.fail() {
				return n.Exhausted, nil
			}
			prompts = concat(n.InvalidPrompts, n.Prompts)
			continue
		}
		if n.Confirm {
			yes, err := r.confirm(ctx, n, got)
			if err != nil {
				return "", err
			}
			if !yes {
				if a.fail() {
					return n.Exhausted, nil
				}
				prompts = n.Prompts
				continue
			}
		}
		r.setVar(n.Var, got)
		return n.Next, nil
	}
}

// collect reads digits after the first until the terminator, max_digits or
// the inter-digit timeout. It returns the digits without the terminator and
// everything pressed.
func (r *run) collect(ctx context.Context, n *flows.Node, first rune) (got, pressed string, err error) {
	k := first
	for {
		pressed += string(k)
		if n.Terminator != "" && string(k) == n.Terminator {
			return got, pressed, nil
		}
		got += string(k)
		if n.MaxDigits > 0 && len(got) >= n.MaxDigits {
			if n.Terminator != "" {
				r.swallow = swallow{key: []rune(n.Terminator)[0], until: r.e.cfg.Clock.Now().Add(n.InterDigitTimeout)}
			}
			return got, pressed, nil
		}
		d, ok, err := r.waitDigit(ctx, n.InterDigitTimeout)
		if err != nil || !ok {
			return got, pressed, err
		}
		k = d.Key
	}
}

func validGather(n *flows.Node, got string) bool {
	if len(got) < max(1, n.MinDigits) || (n.MaxDigits > 0 && len(got) > n.MaxDigits) {
		return false
	}
	return n.Pattern == nil || n.Pattern.MatchString(got)
}

// confirm reads the digits back ("you entered 1 2 3, press 1 if right, 2 to
// enter again") and returns true on 1; any other key or silence is a no.
func (r *run) confirm(ctx context.Context, n *flows.Node, got string) (bool, error) {
	var list []resolved
	if rp, ok := r.resolveName(flows.PromptYouEntered); ok {
		list = append(list, rp)
	}
	list = append(list, r.resolveDigits(got)...)
	if rp, ok := r.resolveName(flows.PromptConfirmOrRetry); ok {
		list = append(list, rp)
	}
	if err := r.playResolved(ctx, list, n.BargeIn); err != nil {
		return false, err
	}
	r.waitingForInput(n)
	d, ok, err := r.waitDigit(ctx, n.Timeout)
	r.inputDone(n)
	if err != nil || !ok {
		return false, err
	}
	r.addDigits(string(d.Key))
	return d.Key == '1', nil
}

// promptForKey plays a menu's or gather's prompts and waits for the first
// key. On a timeout it returns where to go (on_timeout, or exhausted once
// the retries are spent), or retry with the timeout prompts queued.
func (r *run) promptForKey(ctx context.Context, n *flows.Node, a *attempts, prompts *[]flows.PromptRef, kind string) (d media.Digit, next string, retry bool, err error) {
	if err := r.playRefs(ctx, *prompts, n.BargeIn); err != nil {
		return d, "", false, err
	}
	r.waitingForInput(n)
	d, ok, err := r.waitDigit(ctx, n.Timeout)
	if err != nil || ok {
		return d, "", false, err
	}
	r.inputDone(n)
	r.log.Info("ivr: "+kind+" timeout", "node", n.Name, "failures", a.failures+1)
	if n.OnTimeout != "" {
		return d, n.OnTimeout, false, nil
	}
	if a.fail() {
		return d, n.Exhausted, false, nil
	}
	*prompts = concat(n.TimeoutPrompts, n.Prompts)
	return d, "", true, nil
}
