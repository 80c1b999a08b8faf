// Internal: a first-in first-out queue on a ring buffer that holds no memory while it is empty and
// has never been used. std::deque allocates a map and a 512-byte block as soon as it is
// constructed: across the queues of an idle client that was over 2 KiB.
#ifndef TETHER_LIB_FIFO_HPP
#define TETHER_LIB_FIFO_HPP

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

namespace tether::detail {

template <class T>
class fifo {
public:
    fifo() = default;
    fifo(const fifo&) = delete;
    fifo& operator=(const fifo&) = delete;
    ~fifo()
    {
        clear();
        ::operator delete(slots_, std::align_val_t(alignof(T)));
    }

    bool empty() const noexcept { return size_ == 0; }
    std::size_t size() const noexcept { return size_; }

    T& front() noexcept { return at(0); }
    T& back() noexcept { return at(size_ - 1); }
    /// The i-th element from the front.
    T& at(std::size_t i) noexcept { return slots_[(head_ + i) & (capacity_ - 1)]; }
    const T& at(std::size_t i) const noexcept { return slots_[(head_ + i) & (capacity_ - 1)]; }

    template <class... Args>
    T& emplace_back(Args&&... args)
    {
        if (size_ == capacity_) grow();
        T* slot = slots_ + ((head_ + size_) & (capacity_ - 1));
        ::new (static_cast<void*>(slot)) T(std::forward<Args>(args)...);
        ++size_;
        return *slot;
    }
    void push_back(T&& v) { emplace_back(std::move(v)); }

    void pop_front() noexcept
    {
        slots_[head_].~T();
        head_ = (head_ + 1) & (capacity_ - 1);
        --size_;
    }

    void clear() noexcept
    {
        while (size_) pop_front();
        head_ = 0;
    }

    /// Gives the memory back when the queue is empty (it grows again on demand).
    void shrink_when_empty() noexcept
    {
        if (size_ || !slots_) return;
        ::operator delete(slots_, std::align_val_t(alignof(T)));
        slots_ = nullptr;
        capacity_ = 0;
        head_ = 0;
    }

private:
    // Elements move to a new ring by move construction only: any_completion_handler's move
    // assignment is broken in Boost 1.81 (see internal.hpp).
    void grow()
    {
        const std::size_t capacity = capacity_ ? 2 * capacity_ : 8;
        T* slots = static_cast<T*>(::operator new(capacity * sizeof(T), std::align_val_t(alignof(T))));
        for (std::size_t i = 0; i < size_; ++i) {
            T& from = at(i);
            ::new (static_cast<void*>(slots + i)) T(std::move(from));
            from.~T();
        }
        ::operator delete(slots_, std::align_val_t(alignof(T)));
        slots_ = slots;
        capacity_ = capacity;
        head_ = 0;
    }

    T* slots_ = nullptr;
    std::size_t capacity_ = 0;  // a power of two
    std::size_t head_ = 0;
    std::size_t size_ = 0;
};

}  // namespace tether::detail

#endif
