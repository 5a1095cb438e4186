// SPDX-License-Identifier: GPL-2.0
/*
 * agetrack: agevisor's working-set report, asked for from inside Linux.
 *
 * A test module for the "Linux under agevisor" end-to-end test (tools/make-linux-guest
 * builds it against the Debian kernel's headers; /init loads it). agevisor's hypercalls are
 * for CPL 0 only (docs/hypercall-abi.md), so the Linux side of its access tracking must be
 * kernel code. Like tools/agectl on the firmware, it:
 *   - finds agevisor by its CPUID signature (else: "agetrack: agevisor is not running",
 *     -ENODEV);
 *   - allocates a physically contiguous, naturally aligned buffer of 2^order pages (default
 *     order 10: 4 MiB, two whole 2 MiB EPT leaves that hold nothing else);
 *   - runs one aging pass to forget the past, then `rounds` rounds: write one byte per 4 KiB
 *     page of the first part of the buffer (all of it, half, a quarter...), an aging pass,
 *     the idle age agevisor reports for every frame of the buffer (frame_ages), checked;
 *   - prints the machine's working set (working_set) after the last round.
 * A frame last written in round L has idle age r - L after round r's pass. agevisor tracks
 * 2 MiB leaves until it splits them, so the frames after the touched part up to the next
 * 2 MiB boundary are not checked (their age depends on the granularity); all others are.
 * Prints "agetrack: PASS" or "agetrack: FAIL ..." and stays loaded (returns 0) on success.
 *
 * periodic=1 (agevisor runs passes on its own timer, period=MS): passes then also run
 * between our writes and our `age` calls, and a pass in progress may have scanned the buffer
 * before we wrote it, so exact ages no longer follow from the rounds. What still must hold:
 * a frame written in the round just checked has age 0 or 1; a frame of a 2 MiB leaf last
 * written in round L has age >= r - L - 1 after round r; and the working set counts more
 * passes than we asked for.
 */
#include <linux/gfp.h>
#include <linux/init.h>
#include <linux/io.h>
#include <linux/kernel.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/slab.h>

#define HC_BASE 0x61670000ULL /* hv/include/hv/hypercall_abi.h */
#define HC_VERSION (HC_BASE + 0)
#define HC_AGE (HC_BASE + 3)
#define HC_WORKING_SET (HC_BASE + 4)
#define HC_FRAME_AGES (HC_BASE + 5)
#define FRAME_NOT_TRACKED 0xFF
#define IDLE_BUCKETS 9
#define LEAF_2M (2UL << 20)

static unsigned int rounds = 3;
module_param(rounds, uint, 0444);
MODULE_PARM_DESC(rounds, "touch-age-check rounds (1-8)");
static bool periodic;
module_param(periodic, bool, 0444);
MODULE_PARM_DESC(periodic, "agevisor ages periodically too: check bounds, not exact ages");
static unsigned int order = 10;
module_param(order, uint, 0444);
MODULE_PARM_DESC(order, "buffer size: 2^order pages, 9 (2 MiB) to MAX_ORDER-1");

struct hc {
	u64 rax, rbx, rcx, rdx;
};

static void vmcall(struct hc *r)
{
	asm volatile("vmcall"
		     : "+a"(r->rax), "+b"(r->rbx), "+c"(r->rcx), "+d"(r->rdx)
		     :
		     : "memory");
}

static bool agevisor_present(void)
{
	unsigned int eax, ebx, ecx, edx;

	cpuid(1, &eax, &ebx, &ecx, &edx);
	if (!(ecx & (1U << 31)))
		return false;
	cpuid(0x40000000, &eax, &ebx, &ecx, &edx);
	return ebx == 0x76656761 && ecx == 0x726F7369 && edx == 0;
}

static int age_pass(const char *what)
{
	struct hc r = { HC_AGE, 0, 0, 0 };

	vmcall(&r);
	if (r.rax != 0) {
		pr_info("agetrack: FAIL: age hypercall status %llu\n", r.rax);
		return -EIO;
	}
	pr_info("agetrack: %s: pass: %llu pages accessed, %llu tracked, %llu dirty\n", what,
		r.rbx, r.rcx, r.rdx);
	return 0;
}

/* The expected idle age of frame i after round `round`, or -1 when it depends on the
 * tracking granularity. last[i] is the last round that wrote frame i (0: none). */
static int expected_age(unsigned long i, unsigned int round, unsigned long touched_frames,
			const u8 *last)
{
	unsigned long leaf_end_frame = ALIGN(touched_frames * PAGE_SIZE, LEAF_2M) / PAGE_SIZE;

	if (i < touched_frames)
		return 0;
	if (i < leaf_end_frame)
		return -1;
	return last[i] == 0 ? -1 : (int)(round - last[i]);
}

static int check_round(unsigned int round, phys_addr_t buffer, unsigned long frames,
		       unsigned long touched_frames, const u8 *last, u8 *ages)
{
	struct hc r = { HC_FRAME_AGES, virt_to_phys(ages), frames, buffer };
	unsigned long i, checked = 0, idle = 0, wrong = 0;

	vmcall(&r);
	if (r.rax != 0 || r.rbx != frames) {
		pr_info("agetrack: FAIL: frame_ages hypercall status %llu, %llu frames\n", r.rax,
			r.rbx);
		return -EIO;
	}
	for (i = 0; i < frames; ++i) {
		int want = expected_age(i, round, touched_frames, last);

		bool ok;

		if (want < 0)
			continue;
		++checked;
		if (want > 0)
			++idle;
		if (!periodic)
			ok = ages[i] == want;
		else if (want == 0)
			ok = ages[i] <= 1;
		else
			ok = ages[i] != FRAME_NOT_TRACKED && ages[i] >= want - 1;
		if (!ok) {
			if (wrong++ < 4)
				pr_info("agetrack: FAIL: round %u: frame %lu (GPA %#llx) idle age %u, expected %s%d\n",
					round, i, (u64)buffer + i * PAGE_SIZE, ages[i],
					!periodic ? "" : want == 0 ? "<= 1, not " : ">= 1 less than ",
					want);
		}
	}
	if (wrong) {
		pr_info("agetrack: FAIL: round %u: %lu of %lu checked frames wrong\n", round, wrong,
			checked);
		return -EIO;
	}
	pr_info("agetrack: round %u: idle ages of %lu buffer frames as expected%s (%lu idle >= 1 pass, %lu unchecked)\n",
		round, checked, periodic ? " within periodic-aging bounds" : "", idle,
		frames - checked);
	return 0;
}

static int working_set(u64 asked)
{
	static const char *const names[IDLE_BUCKETS] = { "0",	  "1",	    "2-3",
							  "4-7",   "8-15",   "16-31",
							  "32-63", "64-127", "128+" };
	u64 *report = kzalloc(88, GFP_KERNEL);
	struct hc r = { HC_WORKING_SET, 0, 88, 0 };
	int k;

	if (!report)
		return -ENOMEM;
	r.rbx = virt_to_phys(report);
	vmcall(&r);
	if (r.rax != 0 || r.rbx != 88) {
		pr_info("agetrack: FAIL: working_set hypercall status %llu\n", r.rax);
		kfree(report);
		return -EIO;
	}
	pr_info("agetrack: working set after %llu passes (%llu asked for by agetrack): %llu frames (%llu MiB) of RAM tracked\n",
		report[0], asked, report[1], report[1] / 256);
	for (k = 0; k < IDLE_BUCKETS; ++k)
		pr_info("agetrack:   idle %-6s passes: %8llu frames %8llu KiB\n", names[k],
			report[2 + k], report[2 + k] * 4);
	if (periodic && report[0] <= asked) {
		pr_info("agetrack: FAIL: periodic=1 but agevisor ran no passes of its own\n");
		kfree(report);
		return -EIO;
	}
	kfree(report);
	return 0;
}

static int __init agetrack_init(void)
{
	struct hc version = { HC_VERSION, 0, 0, 0 };
	unsigned long frames, i, touched;
	struct page *pages;
	phys_addr_t buffer;
	u8 *base, *last, *ages;
	unsigned int round;
	int err;

	if (!agevisor_present()) {
		pr_info("agetrack: agevisor is not running\n");
		return -ENODEV;
	}
	vmcall(&version);
	pr_info("agetrack: agevisor ABI version %llu (status %llu)\n", version.rbx, version.rax);
	if (rounds < 1 || rounds > 8 || order < 9 || order >= MAX_ORDER) {
		pr_info("agetrack: FAIL: rounds=1..8, order=9..%d\n", MAX_ORDER - 1);
		return -EINVAL;
	}
	frames = 1UL << order;
	pages = alloc_pages(GFP_KERNEL | __GFP_NOWARN, order);
	last = kzalloc(frames, GFP_KERNEL);
	ages = kzalloc(frames, GFP_KERNEL);
	if (!pages || !last || !ages) {
		pr_info("agetrack: FAIL: cannot allocate a %lu KiB buffer\n", frames * 4);
		err = -ENOMEM;
		goto out;
	}
	base = page_address(pages);
	buffer = page_to_phys(pages);
	pr_info("agetrack: buffer GPA %#llx, %lu KiB, %u rounds%s\n", (u64)buffer, frames * 4,
		rounds, periodic ? ", periodic aging" : "");
	err = age_pass("start");
	if (err)
		goto out;
	touched = frames;
	for (round = 1; round <= rounds; ++round) {
		char what[16];

		for (i = 0; i < touched; ++i) {
			WRITE_ONCE(base[i * PAGE_SIZE], (u8)round);
			last[i] = round;
		}
		snprintf(what, sizeof(what), "round %u", round);
		pr_info("agetrack: round %u: wrote %lu KiB\n", round, touched * 4);
		err = age_pass(what);
		if (!err)
			err = check_round(round, buffer, frames, touched, last, ages);
		if (err)
			goto out;
		touched = touched > 1 ? touched / 2 : 1;
	}
	err = working_set(1 + rounds);
	if (!err)
		pr_info("agetrack: PASS\n");
out:
	if (pages)
		__free_pages(pages, order);
	kfree(last);
	kfree(ages);
	return err;
}

static void __exit agetrack_exit(void)
{
}

module_init(agetrack_init);
module_exit(agetrack_exit);
MODULE_DESCRIPTION("agevisor working-set check from inside Linux (agevisor e2e test)");
MODULE_LICENSE("GPL");
